"""CLIP's input normalisation (OpenAI's image mean and standard deviation, on the 0–255 scale
of mmseg's data preprocessor): what every CLIP backbone here was trained with, so the
segmentors and both training packages normalise with these."""
CLIP_MEAN = [122.771, 116.746, 104.094]
CLIP_STD = [68.501, 66.632, 70.323]
