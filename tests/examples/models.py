"""Installed openkim-models the example tests run on, named once (full KIM IDs)."""

AL_ERCOLESSI_ADAMS = "EAM_ErcolessiAdams_1994_Al__MO_324507536345_003"
AL_MISHIN = "EAM_Dynamo_MishinFarkasMehl_1999_Al__MO_651801486679_005"
NI_MISHIN = "EAM_Dynamo_MishinFarkasMehl_1999_Ni__MO_400591584784_005"
CU_MISHIN = "EAM_Dynamo_MishinMehlPapaconstantopoulos_2001_Cu__MO_346334655118_005"
FE_MENDELEV = "EAM_Dynamo_Mendelev_2003_Fe__MO_546673549085_000"
W_ACKLAND = "EAM_Dynamo_Ackland_2003_W__MO_141627196590_005"
SI_STILLINGER_WEBER = "SW_StillingerWeber_1985_Si__MO_405512056662_005"
C_TERSOFF = "Tersoff_LAMMPS_Tersoff_1988_C__MO_579868029681_003"
AR_LJ_BERNARDES = "LJ_Shifted_Bernardes_1958MedCutoff_Ar__MO_126566794224_004"
# Sets sigma from covalent radii, so fcc Ar sits near a = 2.9 Å instead of 5.26 Å.
AR_LJ_UNIVERSAL = "LJ_ElliottAkerson_2015_Universal__MO_959249795837_003"
# The same item under the name of the KIM API's example, which ships no kimspec.edn. The pipeline
# registers one row per KIM code, under the name with a kimspec.edn (the one above).
LJ_UNIVERSAL_WITHOUT_KIMSPEC = "LennardJones612_UniversalShifted__MO_959249795837_003"
# Prints to the C-level stdout when it is created.
W_CHATTY = "EAM_MagneticCubic_DerletNguyenDudarev_2007_W__MO_195478838873_002"
SIM_ALCU = "Sim_LAMMPS_ADP_ApostolMishin_2011_AlCu__SM_667696763561_000"
# Aborts the process (SIGABRT, a failed assertion in its neighbour locator) at fcc Cu
# nearest-neighbour distances below about 1 Å instead of raising.
CU_EMT_ASAP = "EMT_Asap_Standard_JacobsenStoltzeNorskov_1996_Cu__MO_396616545191_001"
# Keeps state between calls in this version: one configuration computed again with the same model
# object gives a lower energy each time (about -4e-4 eV a call for a displaced diamond cell), so
# OpenKIM's own verification checks fail it on inversion, objectivity and permutation symmetry,
# and a relaxation runs away (c44 of diamond C was once recorded as -2.8e7 GPa).
SIC_MEAM_WAGNER = "MEAM_LAMMPS_Wagner_2007_SiC__MO_430846853065_000"
