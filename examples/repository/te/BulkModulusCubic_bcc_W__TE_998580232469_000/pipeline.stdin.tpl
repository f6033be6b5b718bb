@< path("BulkModulusCubic__TD_614317502294_000") >@
W
bcc
@< MODELNAME >@
@< get_test_result(["TE_836743351860"], [MODELNAME], ["structure-cubic-crystal-npt"], ["a"], ["angstrom"])[0][0] >@
