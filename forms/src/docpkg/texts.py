"""The prose of the default package (our own text; no vendor wording or names).

Strings use reportlab paragraph markup (<b>, &amp;). `{reg}` and `{req}` are
replaced by the registration and request addresses from package.toml.
"""

from __future__ import annotations

# Per language: title, subtitle, intro and sections. A section is (heading, blocks); a block is
# ("p", text) | ("ul", [items]) | ("ol", [items]) | ("table", [[cells], ...]), first row = header.
SERVICE_DESCRIPTION: dict[str, dict[str, object]] = {
    "de": {
        "title": "Leistungsbeschreibung",
        "subtitle": "Registrierung des Supportvertrags",
        "intro": (
            "Diese Leistungsbeschreibung gehört zum Dokumentpaket für die Registrierung des "
            "Supportvertrags. Sie beschreibt, was der Supportvertrag umfasst, wann und wie "
            "schnell er aktiviert wird und wie Sie ihn registrieren. Der Anbieter des Supports "
            "wird im Folgenden „der Hersteller“ genannt. Die englische Fassung folgt im "
            "Anschluss."
        ),
        "sections": [
            (
                "1. Leistungsumfang",
                [
                    (
                        "p",
                        "Der Supportvertrag gibt Teilnehmern eines berechtigten Programms des "
                        "Herstellers Anspruch auf technischen Support für die Produkte, die sie "
                        "über dieses Programm nutzen. Er umfasst:",
                    ),
                    (
                        "ul",
                        [
                            "Unterstützung bei Installation, Konfiguration und Betrieb der Produkte,",
                            "Analyse von Fehlern und Störungen sowie Hinweise auf bekannte Lösungen und Umgehungen,",
                            "Weiterleitung bestätigter Produktfehler an die Entwicklung des Herstellers,",
                            "Auskünfte zu Produktfunktionen und unterstützten Konfigurationen.",
                        ],
                    ),
                    (
                        "p",
                        "Nicht umfasst sind insbesondere Entwicklung, Prüfung und Fehlersuche in "
                        "individuellem Programmcode, Beratung und Schulung, Leistungen vor Ort, "
                        "Datenrettung sowie Support für Produkte Dritter.",
                    ),
                ],
            ),
            (
                "2. Supportkanäle",
                [
                    (
                        "ul",
                        [
                            "<b>Telefon</b> – für geschäftskritische Störungen: Ein Produktivsystem ist "
                            "ausgefallen oder so stark beeinträchtigt, dass der Geschäftsbetrieb nicht "
                            "fortgeführt werden kann. Voraussetzung ist ein Vertrag mit "
                            "geschäftskritischem Telefonsupport.",
                            "<b>E-Mail und Webportal</b> – für alle anderen Anfragen.",
                        ],
                    ),
                    (
                        "p",
                        "Telefonnummern und Zugangsdaten erhalten Sie zusammen mit der "
                        "Vertragsnummer. Geben Sie bei jeder Anfrage die Vertragsnummer an.",
                    ),
                ],
            ),
            (
                "3. Servicezeiten",
                [
                    (
                        "p",
                        "Der Support ist <b>Montag bis Freitag von 09:00 bis 18:00 Uhr</b> "
                        "(Zeitzone Europe/Berlin) erreichbar, ausgenommen gesetzliche Feiertage. "
                        "Werktage im Sinne dieses Dokuments sind Montag bis Freitag außer "
                        "gesetzlichen Feiertagen. Anfragen, die außerhalb der Servicezeiten "
                        "eingehen, werden ab Beginn der nächsten Servicezeit bearbeitet. Alle "
                        "Fristen laufen nur während der Servicezeiten.",
                    ),
                ],
            ),
            (
                "4. Aktivierung",
                [
                    (
                        "p",
                        "Der Supportvertrag wird aktiviert, nachdem ein vollständig und gültig "
                        "ausgefülltes Registrierungsformular eingegangen ist:",
                    ),
                    (
                        "table",
                        [
                            ["Gewünschter Support", "Aktivierung"],
                            ["Geschäftskritischer Telefonsupport", "binnen 1 Geschäftsstunde"],
                            ["Sonstiger Support", "binnen eines Werktags"],
                        ],
                    ),
                    (
                        "p",
                        "Beispiel: Geht das Formular für geschäftskritischen Telefonsupport an "
                        "einem Freitag um 17:30 Uhr ein, wird der Vertrag spätestens am folgenden "
                        "Montag um 09:30 Uhr aktiviert, sofern dieser kein Feiertag ist. "
                        "Unvollständige oder fehlerhafte Formulare können nicht bearbeitet "
                        "werden; die Frist beginnt erst mit dem Eingang eines korrekten Formulars.",
                    ),
                ],
            ),
            (
                "5. Registrierung",
                [
                    (
                        "ol",
                        [
                            "Laden Sie das Dokumentpaket herunter. Es besteht aus dieser "
                            "Leistungsbeschreibung und dem Registrierungsformular mit den "
                            "Vertragsbedingungen.",
                            "Drucken Sie diese Leistungsbeschreibung und die Vertragsbedingungen "
                            "(Seite 2 des Registrierungsformulars) für Ihre Unterlagen aus.",
                            "Füllen Sie das Registrierungsformular elektronisch aus. Verwenden Sie nur "
                            "lateinische Schrift; Buchstaben mit diakritischen Zeichen wie ä, é, ł, ř "
                            "oder ș sind erlaubt. Handschriftlich ausgefüllte oder eingescannte "
                            "Formulare werden nicht angenommen.",
                            "Bringen Sie keine Anmerkungen, Kommentare oder Stempel an und verändern Sie "
                            "das Formular nicht – weder Texte noch Felder noch Seiten.",
                            "Senden Sie das ausgefüllte Formular als PDF-Anhang per E-Mail an <b>{reg}</b>.",
                        ],
                    ),
                    (
                        "p",
                        "Falls der Download nicht funktioniert, bitten Sie per E-Mail an {req} "
                        "darum, Ihnen das Dokumentpaket per E-Mail zuzusenden.",
                    ),
                ],
            ),
            (
                "6. Vertragsnummer",
                [
                    (
                        "p",
                        "Nach der Aktivierung erhalten Sie Ihre Vertragsnummer per E-Mail an die "
                        "im Formular angegebene Adresse. Bitte prüfen Sie auch Ihren Spam-Ordner. "
                        "Die Vertragsnummer benötigen Sie für jede Supportanfrage.",
                    ),
                ],
            ),
            (
                "7. Datenschutz",
                [
                    (
                        "p",
                        "Die Angaben im Registrierungsformular (Name, Firma, Anschrift, "
                        "E-Mail-Adresse, Telefonnummer, Programm und Mitglieds-ID) verarbeitet der "
                        "Hersteller ausschließlich, um die Programmberechtigung zu prüfen, den "
                        "Supportvertrag zu registrieren und durchzuführen und Sie dazu zu "
                        "kontaktieren. Rechtsgrundlage ist Art. 6 Abs. 1 Buchst. b DSGVO. Die "
                        "Daten werden nicht für Werbung genutzt und nur an Dienstleister "
                        "weitergegeben, die den Support im Auftrag und nach Weisung des "
                        "Herstellers erbringen. Sie werden gelöscht, sobald sie für diese Zwecke "
                        "nicht mehr erforderlich sind und keine gesetzlichen Aufbewahrungspflichten "
                        "entgegenstehen. Sie haben das Recht auf Auskunft, Berichtigung, Löschung, "
                        "Einschränkung der Verarbeitung, Datenübertragbarkeit und Widerspruch sowie "
                        "das Recht, sich bei einer Datenschutz-Aufsichtsbehörde zu beschweren.",
                    ),
                ],
            ),
        ],
    },
    "en": {
        "title": "Service description",
        "subtitle": "Support contract registration",
        "intro": (
            "This service description is part of the document package for registering the "
            "support contract. It describes what the support contract covers, when and how "
            "quickly it is activated and how to register it. The provider of the support is "
            "referred to as “the vendor”. In case of doubt the German version prevails."
        ),
        "sections": [
            (
                "1. Scope of the support contract",
                [
                    (
                        "p",
                        "The support contract entitles members of an eligible program of the "
                        "vendor to technical support for the products they use through that "
                        "program. It covers:",
                    ),
                    (
                        "ul",
                        [
                            "help with installing, configuring and operating the products,",
                            "analysis of errors and malfunctions, and pointers to known solutions and workarounds,",
                            "forwarding confirmed product defects to the vendor's engineering teams,",
                            "information on product features and supported configurations.",
                        ],
                    ),
                    (
                        "p",
                        "Not covered are, in particular, writing, reviewing or debugging custom "
                        "code, consulting and training, on-site services, data recovery and "
                        "support for third-party products.",
                    ),
                ],
            ),
            (
                "2. Support channels",
                [
                    (
                        "ul",
                        [
                            "<b>Phone</b> – for business-critical incidents: a production system is "
                            "down or so severely impaired that business operations cannot continue. "
                            "Requires a contract with business-critical phone support.",
                            "<b>E-mail and web portal</b> – for all other requests.",
                        ],
                    ),
                    (
                        "p",
                        "You receive the phone numbers and access details together with the "
                        "contract number. Please quote the contract number with every request.",
                    ),
                ],
            ),
            (
                "3. Business hours",
                [
                    (
                        "p",
                        "Support is available <b>Monday to Friday, 09:00–18:00</b> (time zone "
                        "Europe/Berlin), excluding public holidays. In this document, business "
                        "days are Monday to Friday except public holidays. Requests received "
                        "outside business hours are handled from the start of the next business "
                        "hours. All time limits run during business hours only.",
                    ),
                ],
            ),
            (
                "4. Activation",
                [
                    (
                        "p",
                        "The support contract is activated after a complete and valid "
                        "registration form has been received:",
                    ),
                    (
                        "table",
                        [
                            ["Requested support", "Activation"],
                            ["Business-critical phone support", "within 1 business hour"],
                            ["Other support", "within one business day"],
                        ],
                    ),
                    (
                        "p",
                        "Example: if the form for business-critical phone support arrives on a "
                        "Friday at 17:30, the contract is activated by 09:30 on the following "
                        "Monday at the latest, unless that Monday is a public holiday. Incomplete "
                        "or incorrect forms cannot be processed; the time limit starts only when a "
                        "correct form has been received.",
                    ),
                ],
            ),
            (
                "5. How to register",
                [
                    (
                        "ol",
                        [
                            "Download the document package. It consists of this service description "
                            "and the registration form with the terms and conditions.",
                            "Print this service description and the terms (page 2 of the registration "
                            "form) for your records.",
                            "Fill in the registration form electronically. Use Latin characters only; "
                            "letters with diacritics such as ä, é, ł, ř or ș are fine. Forms filled in "
                            "by hand or scanned are not accepted.",
                            "Do not add annotations, comments or stamps, and do not change the form – "
                            "neither its text nor its fields nor its pages.",
                            "E-mail the completed form as a PDF attachment to <b>{reg}</b>.",
                        ],
                    ),
                    (
                        "p",
                        "If the download fails, e-mail {req} and ask for the document package "
                        "to be sent to you by e-mail.",
                    ),
                ],
            ),
            (
                "6. Contract number",
                [
                    (
                        "p",
                        "After activation you receive your contract number by e-mail at the "
                        "address given in the form. Please also check your spam folder. You need "
                        "the contract number for every support request.",
                    ),
                ],
            ),
            (
                "7. Data protection",
                [
                    (
                        "p",
                        "The vendor processes the information in the registration form (name, "
                        "company, address, e-mail address, phone number, program and membership "
                        "ID) solely to verify your program entitlement, to register and perform "
                        "the support contract and to contact you about it. The legal basis is "
                        "Art. 6(1)(b) GDPR. The data is not used for advertising and is disclosed "
                        "only to service providers who provide the support on behalf of and as "
                        "instructed by the vendor. It is deleted once it is no longer needed for "
                        "these purposes, unless statutory retention obligations apply. You have "
                        "the right of access, rectification, erasure, restriction of processing, "
                        "data portability and objection, and the right to lodge a complaint with "
                        "a data protection supervisory authority.",
                    ),
                ],
            ),
        ],
    },
}

FORM_INSTRUCTIONS = {
    "de": "Bitte füllen Sie dieses Formular elektronisch aus (nur lateinische Schrift), ohne "
    "Anmerkungen oder Änderungen, und senden Sie es per E-Mail an <b>{reg}</b>. Alle "
    "Felder sind Pflichtfelder. Die Vertragsbedingungen stehen auf Seite 2.",
    "en": "Please fill in this form electronically (Latin characters only), without "
    "annotations or changes, and e-mail it to <b>{reg}</b>. All fields are required. "
    "The terms and conditions are on page 2.",
}

TERMS_HEADING = ("Vertragsbedingungen", "Terms and conditions")

# (German heading, German text, English heading, English text)
TERMS: list[tuple[str, str, str, str]] = [
    (
        "Geltungsbereich",
        "Diese Bedingungen gelten für den Supportvertrag zwischen dem Hersteller und dem im "
        "Formular genannten Kunden. Die Leistungsbeschreibung ist Bestandteil des Vertrags. "
        "Allgemeine Geschäftsbedingungen des Kunden gelten nicht.",
        "Scope",
        "These terms apply to the support contract between the vendor and the customer named "
        "in the form. The service description forms part of the contract. The customer's "
        "general terms and conditions do not apply.",
    ),
    (
        "Vertragsschluss",
        "Mit dem Senden des ausgefüllten Formulars bietet der Kunde den Vertragsschluss an. "
        "Der Vertrag kommt mit der Aktivierung zustande, die der Hersteller "
        "per E-Mail mit der Vertragsnummer bestätigt. Der Hersteller kann das Angebot ablehnen, "
        "insbesondere wenn die Programmberechtigung nicht nachgewiesen ist.",
        "Formation of the contract",
        "By sending the completed form the customer offers to enter into the contract. The "
        "contract is formed on activation, which the vendor confirms by e-mail stating the "
        "contract number. The vendor may decline the offer, in particular if the program "
        "entitlement cannot be verified.",
    ),
    (
        "Leistungen",
        "Art und Umfang des Supports ergeben sich aus der Leistungsbeschreibung und der im "
        "Formular gewählten Supportart. Der Hersteller erbringt den Support mit fachkundiger "
        "Sorgfalt; einen bestimmten Erfolg, etwa eine Fehlerbehebung binnen einer bestimmten "
        "Frist, schuldet er nicht.",
        "Services",
        "The nature and scope of support follow from the service description and the type of "
        "support selected in the form. The vendor provides support with professional care; it "
        "does not owe a particular result, such as fixing an issue within a given time.",
    ),
    (
        "Servicezeiten und Aktivierung",
        "Servicezeiten sind Montag bis Freitag, 09:00–18:00 Uhr (Europe/Berlin), ausgenommen "
        "gesetzliche Feiertage. Geschäftskritischer Telefonsupport wird binnen 1 "
        "Geschäftsstunde, sonstiger Support binnen eines Werktags nach Eingang des "
        "vollständigen und gültigen Formulars aktiviert.",
        "Business hours and activation",
        "Business hours are Monday to Friday, 09:00–18:00 (Europe/Berlin), excluding public "
        "holidays. Business-critical phone support is activated within 1 business hour, all "
        "other support within one business day of receipt of the complete and valid form.",
    ),
    (
        "Laufzeit und Kündigung",
        "Der Vertrag beginnt mit der Aktivierung und läuft zwölf Monate, längstens jedoch bis "
        "zum Ende der Programmmitgliedschaft des Kunden. Jede Partei kann ihn mit einer Frist "
        "von 30 Tagen in Textform kündigen. Das Recht zur Kündigung aus wichtigem Grund bleibt "
        "unberührt.",
        "Term and termination",
        "The contract starts on activation and runs for twelve months, but not beyond the end "
        "of the customer's program membership. Either party may terminate it on 30 days' "
        "notice in text form. The right to terminate for good cause remains unaffected.",
    ),
    (
        "Vergütung",
        "Der Support ist mit der Programmmitgliedschaft abgegolten. Weitere Entgelte fallen nur "
        "an, wenn sie gesondert in Textform vereinbart werden.",
        "Fees",
        "Support is covered by the program membership. Additional fees apply only if agreed separately in text form.",
    ),
    (
        "Pflichten des Kunden",
        "Der Kunde macht vollständige und wahrheitsgemäße Angaben und teilt Änderungen "
        "unverzüglich mit. Er nennt bei jeder Anfrage die Vertragsnummer, wirkt bei der "
        "Fehleranalyse angemessen mit (z. B. mit Protokollen und Fehlerbeschreibungen) und "
        "sichert seine Daten regelmäßig.",
        "Customer obligations",
        "The customer provides complete and truthful information and reports changes without "
        "delay. The customer quotes the contract number with every request, cooperates "
        "reasonably in analysing issues (e.g. with logs and error descriptions) and backs up "
        "its data regularly.",
    ),
    (
        "Haftung",
        "Der Hersteller haftet unbeschränkt bei Vorsatz und grober Fahrlässigkeit, bei "
        "Verletzung von Leben, Körper oder Gesundheit und nach dem Produkthaftungsgesetz. Bei "
        "leichter Fahrlässigkeit haftet er nur für die Verletzung wesentlicher "
        "Vertragspflichten, begrenzt auf den vertragstypischen, vorhersehbaren Schaden.",
        "Liability",
        "The vendor is liable without limitation for intent and gross negligence, for injury "
        "to life, body or health and under the German Product Liability Act. For slight "
        "negligence it is liable only for breach of material contractual obligations, limited "
        "to the foreseeable damage typical of the contract.",
    ),
    (
        "Datenschutz und Vertraulichkeit",
        "Der Hersteller verarbeitet personenbezogene Daten nach der DSGVO und nur zur "
        "Durchführung dieses Vertrags; Einzelheiten enthält Abschnitt 7 der "
        "Leistungsbeschreibung. Beide Parteien behandeln vertrauliche Informationen, die sie "
        "im Rahmen des Supports erhalten, vertraulich.",
        "Data protection and confidentiality",
        "The vendor processes personal data in accordance with the GDPR and only to perform "
        "this contract; see section 7 of the service description for details. Both parties "
        "keep confidential any confidential information received in the course of support.",
    ),
    (
        "Änderungen",
        "Änderungen dieser Bedingungen teilt der Hersteller mindestens sechs Wochen vor ihrem "
        "Inkrafttreten in Textform mit. Der Kunde kann den Vertrag bis dahin kündigen; "
        "andernfalls gelten die Änderungen als angenommen. Darauf weist die Mitteilung hin.",
        "Amendments",
        "The vendor gives notice of amendments to these terms in text form at least six weeks "
        "before they take effect. The customer may terminate the contract before then; "
        "otherwise the amendments are deemed accepted. The notice points this out.",
    ),
    (
        "Schlussbestimmungen",
        "Es gilt deutsches Recht unter Ausschluss des UN-Kaufrechts. Gerichtsstand für "
        "Kaufleute ist, soweit zulässig, der Sitz des Herstellers. Bei Abweichungen zwischen "
        "der deutschen und der englischen Fassung ist die deutsche maßgeblich. Ist eine "
        "Bestimmung unwirksam, bleiben die übrigen wirksam.",
        "Final provisions",
        "German law applies, excluding the UN Convention on Contracts for the International "
        "Sale of Goods. Where permitted, the place of jurisdiction for merchants is the "
        "vendor's registered office. If the German and English versions differ, the German "
        "version prevails. If a provision is invalid, the others remain in effect.",
    ),
]

TERMS_FOOTNOTE = (
    "Mit dem Ankreuzen von „Ich habe die Vertragsbedingungen gelesen“ auf Seite 1 bestätigen "
    "Sie, diese Bedingungen gelesen zu haben.",
    "By ticking “I have read the terms” on page 1 you confirm that you have read these terms.",
)
