from greenwave.cli import main

raise SystemExit(main())
