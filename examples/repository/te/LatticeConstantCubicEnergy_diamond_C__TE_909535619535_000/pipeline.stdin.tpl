@< path("LatticeConstantCubicEnergy__TD_475411767977_000") >@
C
diamond
@< MODELNAME >@
@# a guess: the experimental lattice constant (Kittel 2005) #@
3.567
