import sys

from llm_calc.cli import main

sys.exit(main())
