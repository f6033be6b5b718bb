@< path("BulkModulusCubic__TD_614317502294_000") >@
Mo
bcc
@< MODELNAME >@
@< get_test_result(["TE_943476759950"], [MODELNAME], ["structure-cubic-crystal-npt"], ["a"], ["angstrom"])[0][0] >@
