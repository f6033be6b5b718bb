@< path("SurfaceEnergyIdealFCC__TD_809313227417_000") >@
Ag
fcc
@< MODELNAME >@
@< get_test_result(["TE_313111245561"], [MODELNAME], ["structure-cubic-crystal-npt"], ["a"], ["angstrom"])[0][0] >@
