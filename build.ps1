#!/usr/bin/env pwsh
# One entry point for building and testing SpecEE.Native.
#   dotnet tool restore; dotnet pwsh ./build.ps1 [restore|build|test|bench|pack|gpu-check]
#   gpu-check: publishes the self-contained GPU checker (tools/gpu-check.sh publish) and runs it on the simulator;
#   a session lent a GPU then runs `bash tools/gpu-check.sh device` there with .devcarry carried.
param(
    [ValidateSet('restore', 'build', 'test', 'bench', 'pack', 'gpu-check')]
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

# native/cudasim → build/native/lib/libspecee_cudasim.so, which SimDevice finds from the test folder. Without
# CMake or a C++ compiler it is skipped with a warning, and the simulator tests report themselves as ignored.
function Invoke-Native([bool]$runTests) {
    $cxx = (Get-Command c++ -ErrorAction SilentlyContinue) -or (Get-Command g++ -ErrorAction SilentlyContinue)
    if (-not (Get-Command cmake -ErrorAction SilentlyContinue) -or -not $cxx) {
        Write-Warning 'cmake or a C++ compiler is missing: native/cudasim not built, simulator tests will be ignored'
        return
    }
    Invoke-Step 'cmake configure' { cmake -S . -B build/native "-DCMAKE_BUILD_TYPE=$Configuration" }
    Invoke-Step 'cmake build' { cmake --build build/native -j ([Environment]::ProcessorCount) }
    if ($runTests) { Invoke-Step 'ctest' { ctest --test-dir build/native --output-on-failure } }
}

switch ($Task) {
    'restore' { Invoke-Step 'dotnet restore' { dotnet restore $sln } }
    'build'   {
        Invoke-Native $false
        Invoke-Step 'dotnet build' { dotnet build $sln -c $Configuration }
    }
    'test'    {
        Invoke-Native $true
        Invoke-Step 'dotnet build' { dotnet build $sln -c $Configuration }
        Invoke-Step 'dotnet test' { dotnet test $sln -c $Configuration --no-build --logger 'console;verbosity=normal' }
    }
    'bench'   {
        Invoke-Step 'dotnet build' { dotnet build src/SpecEE.Cli -c $Configuration }
        Invoke-Step 'specee bench' { dotnet run --project src/SpecEE.Cli -c $Configuration --no-build -- bench }
    }
    'gpu-check' {
        Invoke-Native $false
        Invoke-Step 'gpu-check publish' { bash tools/gpu-check.sh publish }
        Invoke-Step 'gpu-check on the simulator' { bash tools/gpu-check.sh local }
        Write-Host 'device call: run(command="bash tools/gpu-check.sh device", carry=[".devcarry"], timeout_s=420)'
    }
    'pack'    { Invoke-Step 'dotnet pack' { dotnet pack $sln -c $Configuration -o out/packages } }
}
