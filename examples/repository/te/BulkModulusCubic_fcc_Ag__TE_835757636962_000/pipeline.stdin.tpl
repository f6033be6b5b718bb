@< path("BulkModulusCubic__TD_614317502294_000") >@
Ag
fcc
@< MODELNAME >@
@< get_test_result(["TE_313111245561"], [MODELNAME], ["structure-cubic-crystal-npt"], ["a"], ["angstrom"])[0][0] >@
