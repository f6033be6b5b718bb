@< path("BulkModulusCubic__TD_614317502294_000") >@
Ni
fcc
@< MODELNAME >@
@< get_test_result(["TE_003901979307"], [MODELNAME], ["structure-cubic-crystal-npt"], ["a"], ["angstrom"])[0][0] >@
