"""jointsed: joint audio tagging and sound event detection for DCASE Task 4 / DESED data.

Implements Lin et al.'s guided-learning teacher-student system (DCASE 2019 Task 4 winner) and our
reconstruction, from its abstract, of the joint framework of Liang et al. (arXiv 2103.12388):
frame-level target-event deep feature distillation, an adaptive focal loss with two-stage
training, and event-specific post-processing; plus the DCASE CRNN mean-teacher baseline.
"""

__version__ = "0.1.0"
