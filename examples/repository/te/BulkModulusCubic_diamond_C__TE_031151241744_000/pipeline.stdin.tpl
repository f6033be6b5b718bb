@< path("BulkModulusCubic__TD_614317502294_000") >@
C
diamond
@< MODELNAME >@
@< get_test_result(["TE_909535619535"], [MODELNAME], ["structure-cubic-crystal-npt"], ["a"], ["angstrom"])[0][0] >@
