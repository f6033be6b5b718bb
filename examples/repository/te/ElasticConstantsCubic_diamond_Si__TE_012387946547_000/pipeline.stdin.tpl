@< path("ElasticConstantsCubic__TD_286253921530_000") >@
Si
diamond
@< MODELNAME >@
@< get_test_result(["TE_793473886814"], [MODELNAME], ["structure-cubic-crystal-npt"], ["a"], ["angstrom"])[0][0] >@
