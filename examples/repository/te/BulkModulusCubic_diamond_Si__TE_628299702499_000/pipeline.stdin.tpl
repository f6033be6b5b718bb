@< path("BulkModulusCubic__TD_614317502294_000") >@
Si
diamond
@< MODELNAME >@
@< get_test_result(["TE_793473886814"], [MODELNAME], ["structure-cubic-crystal-npt"], ["a"], ["angstrom"])[0][0] >@
