@< path("BulkModulusCubic__TD_614317502294_000") >@
Ar
fcc
@< MODELNAME >@
@< get_test_result(["TE_024934012965"], [MODELNAME], ["structure-cubic-crystal-npt"], ["a"], ["angstrom"])[0][0] >@
