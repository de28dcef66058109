"""Operation traces: vocabulary (``schema``), files (``io``), synthetic builders."""
