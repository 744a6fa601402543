from lambdaboot_cli.main import main

raise SystemExit(main())
