"""Charter's own judgement models, fine-tuned from the packaged encoder.

``charter finetune TASK`` trains one (answerability so far) with ``train.fit``; the
result is an ``Artifact`` (the trained top layers and head, a model card) stored as a
version of its task; ``serving`` hands the active one (or the shipped default in
``models/<task>/``) to the code that judges, which runs it through ``runtime.Scorer``.
"""
