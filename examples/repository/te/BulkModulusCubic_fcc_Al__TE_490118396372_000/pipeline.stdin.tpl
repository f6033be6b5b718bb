@< path("BulkModulusCubic__TD_614317502294_000") >@
Al
fcc
@< MODELNAME >@
@< get_test_result(["TE_514507648222"], [MODELNAME], ["structure-cubic-crystal-npt"], ["a"], ["angstrom"])[0][0] >@
