"""An example instructgen plugin package.

Three parts, registered in :mod:`instructgen_example.plugin` and found by
instructgen through the ``instructgen`` entry point in ``pyproject.toml``:

* source ``tsv_captions``: image captions from a tab-separated file;
* edit type ``expression_change``: change the facial expression of a person
  or animal, for the builtin ``edit`` generator;
* post-processor ``word_blocklist``: drop (or mask) records that use a
  blocked word.
"""

__version__ = "0.1.0"
