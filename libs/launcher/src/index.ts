export { freePort, freePorts } from './free-port.js';
export { ServiceProcess, SERVICE_NAMES, serviceEntry, type ServiceName } from './service-process.js';
export { startServices, type ServicesOptions, type RunningServices } from './services.js';
