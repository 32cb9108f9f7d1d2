# escape=`
FROM mcr.microsoft.com/windows/servercore:ltsc2022
SHELL ["powershell", "-Command"]
RUN Write-Host `
    "C:\path\x"
COPY C:\src\ C:\dst\
WORKDIR C:\app
