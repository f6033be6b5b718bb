@< path("LatticeConstantCubicEnergy__TD_475411767977_000") >@
Cu
fcc
@< MODELNAME >@
@# a guess: the experimental lattice constant (Kittel 2005) #@
3.61
