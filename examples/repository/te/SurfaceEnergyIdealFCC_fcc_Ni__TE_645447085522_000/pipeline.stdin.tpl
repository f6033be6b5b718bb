@< path("SurfaceEnergyIdealFCC__TD_809313227417_000") >@
Ni
fcc
@< MODELNAME >@
@< get_test_result(["TE_003901979307"], [MODELNAME], ["structure-cubic-crystal-npt"], ["a"], ["angstrom"])[0][0] >@
