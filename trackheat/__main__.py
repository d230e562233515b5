"""`python -m trackheat` is the same program as the `trackheat` command."""

from trackheat.cli import main

if __name__ == "__main__":  # not when a worker process (Dask's, multiprocessing's) imports the main module again
    raise SystemExit(main())
