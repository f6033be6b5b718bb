@< path("LatticeConstantCubicEnergy__TD_475411767977_000") >@
W
bcc
@< MODELNAME >@
@# a guess: the experimental lattice constant (Kittel 2005) #@
3.16
