// Behaviour of the lists screens; no inline scripts are allowed by the page CSP.
