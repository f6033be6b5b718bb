@< path("LatticeConstantCubicEnergy__TD_475411767977_000") >@
Ag
fcc
@< MODELNAME >@
@# a guess: the experimental lattice constant (Kittel 2005) #@
4.09
