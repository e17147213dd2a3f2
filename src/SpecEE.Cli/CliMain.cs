namespace SpecEE.Cli;

/// <summary>Dispatches the sub-commands. Placeholder until the CLI lands.</summary>
public static class CliMain
{
    public static int Run(string[] args)
    {
        Console.Error.WriteLine("specee: not implemented yet");
        return 2;
    }
}
