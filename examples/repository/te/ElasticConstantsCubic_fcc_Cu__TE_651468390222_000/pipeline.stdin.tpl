@< path("ElasticConstantsCubic__TD_286253921530_000") >@
Cu
fcc
@< MODELNAME >@
@< get_test_result(["TE_034011016014"], [MODELNAME], ["structure-cubic-crystal-npt"], ["a"], ["angstrom"])[0][0] >@
