@< path("SurfaceEnergyIdealFCC__TD_809313227417_000") >@
Al
fcc
@< MODELNAME >@
@< get_test_result(["TE_514507648222"], [MODELNAME], ["structure-cubic-crystal-npt"], ["a"], ["angstrom"])[0][0] >@
