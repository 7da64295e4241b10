/** Injection token of the SessionHosts instance. */
export const SESSION_HOSTS = 'SESSION_HOSTS';
/** Injection token of the SessionProxyConfig. */
export const SESSION_PROXY_CONFIG = 'SESSION_PROXY_CONFIG';
