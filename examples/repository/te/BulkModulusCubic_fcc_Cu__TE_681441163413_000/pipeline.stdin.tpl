@< path("BulkModulusCubic__TD_614317502294_000") >@
Cu
fcc
@< MODELNAME >@
@< get_test_result(["TE_034011016014"], [MODELNAME], ["structure-cubic-crystal-npt"], ["a"], ["angstrom"])[0][0] >@
