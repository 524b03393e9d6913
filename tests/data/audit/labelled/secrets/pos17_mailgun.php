<?php
$mg = Mailgun::create('@@mailgun-api-key@@');
$mg->messages()->send('mg.acme-corp.net', $params);
