#!/usr/bin/env pwsh
# One entry point for building and testing SpecEE.Native.
#   dotnet tool restore; dotnet pwsh ./build.ps1 [restore|build|test|bench|pack]
param(
    [ValidateSet('restore', 'build', 'test', 'bench', 'pack')]
    [string]$Task = 'test',
    [string]$Configuration = 'Release'
)
$ErrorActionPreference = 'Stop'
Set-Location $PSScriptRoot
$sln = 'SpecEE.Native.sln'

function Invoke-Step([string]$what, [scriptblock]$cmd) {
    Write-Host "==> $what"
    & $cmd
    if ($LASTEXITCODE -ne 0) { throw "$what failed (exit $LASTEXITCODE)" }
}

switch ($Task) {
    'restore' { Invoke-Step 'dotnet restore' { dotnet restore $sln } }
    'build'   { Invoke-Step 'dotnet build' { dotnet build $sln -c $Configuration } }
    'test'    {
        Invoke-Step 'dotnet build' { dotnet build $sln -c $Configuration }
        Invoke-Step 'dotnet test' { dotnet test $sln -c $Configuration --no-build --logger 'console;verbosity=normal' }
    }
    'bench'   {
        Invoke-Step 'dotnet build' { dotnet build src/SpecEE.Cli -c $Configuration }
        Invoke-Step 'specee bench' { dotnet run --project src/SpecEE.Cli -c $Configuration --no-build -- bench }
    }
    'pack'    { Invoke-Step 'dotnet pack' { dotnet pack $sln -c $Configuration -o out/packages } }
}
