@< path("LatticeConstantCubicEnergy__TD_475411767977_000") >@
Al
fcc
@< MODELNAME >@
@# a guess: the experimental lattice constant (Kittel 2005) #@
4.05
