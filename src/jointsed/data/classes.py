"""The sound event classes of DESED (DCASE 2019-2023 Task 4), in the official order."""

DESED_CLASSES: tuple[str, ...] = (
    "Alarm_bell_ringing",
    "Blender",
    "Cat",
    "Dishes",
    "Dog",
    "Electric_shaver_toothbrush",
    "Frying",
    "Running_water",
    "Speech",
    "Vacuum_cleaner",
)

#: sizes of the real DESED / DCASE 2019 sets (the synthesizer's layouts come from their metadata)
N_REAL_VALIDATION = 1168
N_REAL_PUBLIC_EVAL = 692
N_REAL_SYNTHETIC = 2045
N_REAL_WEAK = 1578
N_REAL_UNLABELLED = 14412  # size of DESED's unlabel_in_domain set (the file list is not shipped)
