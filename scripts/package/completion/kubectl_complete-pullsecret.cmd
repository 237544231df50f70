@echo off
rem Shell completion for `kubectl pullsecret` on Windows: kubectl (1.26 or newer) runs this from
rem PATH with the words typed after the plugin name; the plugin prints the candidates itself.
kubectl-pullsecret.exe __complete %*
