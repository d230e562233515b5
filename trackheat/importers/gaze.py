"""Eye-tracker exports (Pupil Labs, Tobii, plain gaze CSV): not built yet."""

FORMATS: list = []
