@< path("LatticeConstantCubicEnergy__TD_475411767977_000") >@
Ar
fcc
@< MODELNAME >@
@# a guess: the experimental lattice constant (Kittel 2005) #@
5.26
