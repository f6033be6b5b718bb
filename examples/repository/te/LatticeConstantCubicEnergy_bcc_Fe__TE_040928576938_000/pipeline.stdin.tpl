@< path("LatticeConstantCubicEnergy__TD_475411767977_000") >@
Fe
bcc
@< MODELNAME >@
@# a guess: the experimental lattice constant (Kittel 2005) #@
2.87
