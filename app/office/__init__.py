"""Office files as offices make them: reading a workbook to its real extent within bounds, and the table
habits (title rows, an STT column, labels, the leading-apostrophe rule) shared by the server's import and the
import client. Standard library and openpyxl only: nothing here imports the server."""
