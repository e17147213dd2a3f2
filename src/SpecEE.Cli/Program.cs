// Entry point of `specee`; the command implementations live beside this file.
return SpecEE.Cli.CliMain.Run(args);
