@< path("ElasticConstantsCubic__TD_286253921530_000") >@
Au
fcc
@< MODELNAME >@
@< get_test_result(["TE_065599257303"], [MODELNAME], ["structure-cubic-crystal-npt"], ["a"], ["angstrom"])[0][0] >@
