@< path("SurfaceEnergyIdealFCC__TD_809313227417_000") >@
Cu
fcc
@< MODELNAME >@
@< get_test_result(["TE_034011016014"], [MODELNAME], ["structure-cubic-crystal-npt"], ["a"], ["angstrom"])[0][0] >@
