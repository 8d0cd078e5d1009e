"""Built-in post-processing methods beside Lin's (:class:`jointsed.postprocess.params.PostProcessingParams`).

Every module here registers one method with :func:`jointsed.postprocess.base.register_postprocessor`;
the registry imports them all on its first lookup, so adding a built-in method is adding a module.

* :mod:`.sebb` — sound event bounding boxes by change detection (Ebbers et al., Interspeech 2024;
  our implementation).
"""
