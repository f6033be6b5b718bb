@< path("LatticeConstantCubicEnergy__TD_475411767977_000") >@
Si
diamond
@< MODELNAME >@
@# a guess: the experimental lattice constant (Kittel 2005) #@
5.43
