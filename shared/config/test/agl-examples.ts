/**
 * The two weston.ini examples of AGL's waltham-transmitter documentation,
 * verbatim (tab indentation included) apart from the caption line the README
 * puts above them (`/* Example_weston.ini - single transmitter-output *\/`,
 * which weston's own parser would reject). Tests replace the addresses.
 */

/** The 2019 plugin: weston with ivi-shell, transmitter.so in [core] modules. */
export const AGL_2019_INI = `
\t[core]
\tshell=ivi-shell.so
\tmodules=systemd-notify.so,ivi-controller.so,transmitter.so

\t[ivi-shell]
\tivi-module=ivi-controller.so
\tivi-input-module=ivi-input-controller.so

\t[transmitter-output]
\toutput-name=transmitter_1
\tserver-address=192.168.2.52
\tport=34400
\twidth=1920
\theight=1080
`;

/** The agl-compositor generation: name, mode, host, port, agl-shell-app-id. */
export const AGL_NEW_INI = `\t[transmitter-output]
\tname=transmitter-1
\tmode=640x720@30
\thost=192.168.20.99
\tport=5005
\tagl-shell-app-id=<APP_ID>
`;
