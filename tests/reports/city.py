"""The year and date every report test of this package asks for."""

YEAR, AS_OF = 2024, "2025-01-10"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
