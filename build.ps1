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

# Every failed test in the TRX files under $dir: name, then the first lines of its message.
function Write-FailedTests([string]$dir) {
    foreach ($trx in Get-ChildItem -Path $dir -Filter *.trx -Recurse -ErrorAction SilentlyContinue) {
        [xml]$doc = Get-Content -Raw $trx.FullName
        $classOf = @{}
        foreach ($t in $doc.TestRun.TestDefinitions.UnitTest) { $classOf[$t.id] = $t.TestMethod.className }
        $failed = @($doc.TestRun.Results.UnitTestResult | Where-Object { $_.outcome -eq 'Failed' })
        Write-Host "==> $($failed.Count) failed test(s) in $($trx.Name)"
        foreach ($r in $failed) {
            Write-Host "FAILED $($classOf[$r.testId]).$($r.testName)"
            $message = "$($r.Output.ErrorInfo.Message)".Trim() -split "`n" | Select-Object -First 8
            foreach ($line in $message) { Write-Host "    $line" }
            $where = "$($r.Output.ErrorInfo.StackTrace)" -split "`n" | Where-Object { $_ -match ' in .*:line \d+' } | Select-Object -First 1
            foreach ($line in $where) { Write-Host "    $($line.Trim())" }
        }
    }
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
        # Minimal console output: failures print in full as they happen; the TRX is re-read at the end so a
        # failed run's last lines name every failed test and its message (CI logs often keep only the tail).
        $trxDir = Join-Path $PSScriptRoot 'TestResults'
        Remove-Item -Recurse -Force $trxDir -ErrorAction SilentlyContinue
        dotnet test $sln -c $Configuration --no-build --logger 'console;verbosity=minimal' --logger 'trx;LogFileName=tests.trx' --results-directory $trxDir
        $testExit = $LASTEXITCODE
        if ($testExit -ne 0) { Write-FailedTests $trxDir }
        if ($testExit -ne 0) { throw "dotnet test failed (exit $testExit)" }
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
