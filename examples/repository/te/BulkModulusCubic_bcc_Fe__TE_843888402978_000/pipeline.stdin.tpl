@< path("BulkModulusCubic__TD_614317502294_000") >@
Fe
bcc
@< MODELNAME >@
@< get_test_result(["TE_040928576938"], [MODELNAME], ["structure-cubic-crystal-npt"], ["a"], ["angstrom"])[0][0] >@
