from jointsed.cli import main

raise SystemExit(main())
