# Sets a commented example configuration in a man page (section 5):
# cmake -DINPUT=example.toml -DOUTPUT=page.5 -DNAME= -DSUMMARY= -DDAEMON=
#       -DVERSION= -DEXAMPLES=dir -P config_man_page.cmake
file(READ "${INPUT}" text)
# roff: a backslash is \e; a line starting with . or ' would be a request.
string(REPLACE "\\" "\\e" text "${text}")
string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" text "${text}")
get_filename_component(example "${INPUT}" NAME)
string(TOUPPER "${NAME}" title)
file(WRITE "${OUTPUT}" ".TH ${title} 5 \"\" \"qsfs-stack ${VERSION}\" \"File Formats\"
.SH NAME
${NAME} \\- ${SUMMARY}
.SH SYNOPSIS
.B ${DAEMON}
.B \\-\\-config
.I FILE
.SH DESCRIPTION
The configuration of
.BR ${DAEMON} (8)
is a TOML file. The commented example below is the reference: it names
every key, its meaning and its default.
A copy is installed as
.IR ${EXAMPLES}/${example} .
.SH EXAMPLE
.nf
${text}.fi
.SH SEE ALSO
.BR ${DAEMON} (8)
")
